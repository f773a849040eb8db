/**
 * @module `edge-infer models quantize IN OUT [--method dynamic|qdq]`: scripts/models.ts's quantizer (the same code
 * `npm run models -- quantize` runs), with a bar over its stages on a terminal.
 */
import cliProgress from 'cli-progress';
import type { GlobalOptions } from '../client.js';
import { CliError, usageError } from '../errors.js';
import type { Io } from '../io.js';

export interface QuantizeOptions extends GlobalOptions {
  method: string;
  minElements?: string | undefined;
  reduceRange?: boolean | undefined;
}

export async function quantize(io: Io, input: string, output: string, options: QuantizeOptions): Promise<void> {
  // Loaded here, not at start-up: the ONNX protobuf code is only needed by this command.
  const { isMethod, parseMinElements, quantizeFile, quantizeSummary, QUANTIZE_STEPS } =
    await import('../../scripts/models.js');
  const method = options.method;
  if (!isMethod(method)) throw usageError(`--method ${method}: expected dynamic or qdq`);
  const minElements = parseMinElements(options.minElements);
  if (typeof minElements === 'object') throw usageError(minElements.usage);
  const bar = io.progress
    ? new cliProgress.SingleBar(
        { format: 'quantizing [{bar}] {value}/{total} | {step}', stream: process.stderr },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  bar?.start(QUANTIZE_STEPS.length, 0, { step: 'read' });
  let result;
  try {
    result = quantizeFile(input, output, {
      method,
      reduceRange: options.reduceRange === true,
      ...(minElements === undefined ? {} : { minElements }),
      onStep: (step, index) => bar?.update(index, { step }),
    });
    bar?.update(QUANTIZE_STEPS.length, { step: 'done' });
  } catch (err) {
    // A missing file or a file that is not ONNX: one line, not the protobuf decoder's stack.
    throw new CliError(`cannot quantize ${input}: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    bar?.stop();
  }
  if (options.json === true) {
    io.out(
      JSON.stringify({
        input,
        output,
        input_bytes: result.inputBytes,
        output_bytes: result.outputBytes,
        ratio: result.outputBytes / result.inputBytes,
        ...result.report,
      }),
    );
  } else {
    for (const line of quantizeSummary(input, output, result)) io.out(line);
  }
}
