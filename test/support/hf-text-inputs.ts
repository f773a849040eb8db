/** @module The texts the Hugging Face text tests ask of both the service and transformers.js (no imports: workerd reads it too). */
export const CLASSIFY_TEXTS = [
  'The food was great and the service was friendly.',
  'Terrible phone, it broke after two days!',
  'ok',
  'Wonderfully acted, though the plot drags in the middle and the ending felt rushed to me.',
];
export const NER_TEXTS = [
  'Sarah lives in London and works for the United Nations.',
  'My name is Wolfgang and I live in Berlin, unbelievably happily.',
];
export const ZERO_SHOT = {
  text: 'I have a problem with my phone that needs to be resolved soon!',
  labels: ['urgent', 'not urgent', 'phone', 'tablet', 'computer'],
};
export const QA = { question: 'Who was Jim Henson?', context: 'Jim Henson was a nice puppet, and he made the show.' };
