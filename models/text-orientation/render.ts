/**
 * @module The text-orientation evaluation set: varied English text lines rendered with Debian's ImageMagick
 * (`/usr/bin/convert`, fonts-dejavu-core), each upright (label `0`) and rotated 180° (label `180`).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

/** Debian's ImageMagick; the first `convert` on PATH may be something else. */
export const CONVERT = '/usr/bin/convert';
const FONT_DIR = '/usr/share/fonts/truetype/dejavu';
/** The six faces fonts-dejavu-core installs. */
const FONTS = [
  'DejaVuSans.ttf',
  'DejaVuSerif.ttf',
  'DejaVuSansMono.ttf',
  'DejaVuSans-Bold.ttf',
  'DejaVuSerif-Bold.ttf',
  'DejaVuSansMono-Bold.ttf',
];
const STYLES: { fg: string; bg: string }[] = [
  { fg: 'black', bg: 'white' },
  { fg: '#202020', bg: '#f4f0e6' },
  { fg: '#1a237e', bg: '#ffffff' },
  { fg: '#303030', bg: '#d8d8d8' },
  { fg: 'white', bg: '#1b1b1b' },
];
const SIZES = [22, 28, 34, 40];

export const TEXT_LINES: readonly string[] = [
  'Invoice number 20417',
  'The quick brown fox jumps',
  'Total amount due: $148.20',
  'Meeting moved to Thursday',
  'Please sign and return',
  'Chapter 7: Results',
  'Keep refrigerated',
  'Order shipped today',
  'Customer reference ID',
  'Batch 0093-A, lot 17',
  'Best before 12/2026',
  'Warning: hot surface',
  'Department of Physics',
  'Page 14 of 52',
  'Return to sender',
  'Flight BA 2490 to Lisbon',
  'Call us on 020 7946 0958',
  'Subtotal before tax',
  'Handle with care',
  'Quarterly report 2025',
  'Room 3.14, second floor',
  'Delivery address',
  'Thank you for shopping',
  'Serial no. KX-88213',
  'Emergency exit only',
  'Monday to Friday 9-5',
  'Signature of applicant',
  'Account balance',
  'Printed in Germany',
  'Learning rate schedule',
  'Open the lid gently',
  'Date of birth',
  'Ticket valid for one ride',
  'Net weight 500 g',
  'Figure 3: Accuracy by class',
  'Terms and conditions apply',
  'Parking permit required',
  'Your order summary',
  'Library card holder',
  'Version 2.4.1 released',
];

export interface RenderedLine {
  file: string;
  text: string;
  label: '0' | '180';
  font: string;
  pointsize: number;
}

/** Renders every line upright and upside down into `dir` (PNG). Deterministic: style, font and size follow the index. */
/**
 * Whether this machine can render the evaluation set (Debian's ImageMagick and the DejaVu faces). `npm start` on a
 * machine with only Node and npm builds without them (fp32, int8 unmeasured); `.ci/run` installs them.
 */
export function renderingAvailable(): boolean {
  return existsSync(CONVERT) && FONTS.every((f) => existsSync(join(FONT_DIR, f)));
}

export function renderEvalSet(dir: string): RenderedLine[] {
  if (!existsSync(CONVERT)) throw new Error(`${CONVERT} is missing: apt-get install -y imagemagick fonts-dejavu-core`);
  mkdirSync(dir, { recursive: true });
  const out: RenderedLine[] = [];
  TEXT_LINES.forEach((text, i) => {
    const font = FONTS[i % FONTS.length] ?? 'DejaVuSans.ttf';
    const style = STYLES[i % STYLES.length] ?? { fg: 'black', bg: 'white' };
    const pointsize = SIZES[(i * 7) % SIZES.length] ?? 28;
    for (const label of ['0', '180'] as const) {
      const file = `line-${String(i).padStart(2, '0')}-${label}.png`;
      execFileSync(CONVERT, [
        '-background',
        style.bg,
        '-fill',
        style.fg,
        '-font',
        join(FONT_DIR, font),
        '-pointsize',
        String(pointsize),
        `label:${text}`,
        '-bordercolor',
        style.bg,
        '-border',
        '10x6',
        ...(label === '180' ? ['-rotate', '180'] : []),
        // No timestamps or software chunks: the same inputs give the same bytes.
        '-strip',
        '-define',
        'png:exclude-chunks=date,time',
        join(dir, file),
      ]);
      out.push({ file, text, label, font, pointsize });
    }
  });
  return out;
}
