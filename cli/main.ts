/**
 * @module The `edge-infer` CLI (bin/edge-infer.mjs): commander's program over the commands in cli/commands, and
 * `runCli`, which turns every outcome into an exit code: 0, 1 for API, network and local failures (one line on
 * stderr, no stack), 2 for usage errors (commander's message).
 */
import { Command, CommanderError, Option } from 'commander';
import { DEFAULT_BASE_URL, type GlobalOptions } from './client.js';
import { bootstrapKey, type BootstrapOptions } from './commands/bootstrap.js';
import { createKey, listKeys, revokeKey, type CreateKeyOptions } from './commands/keys.js';
import { listModels, showModel } from './commands/models.js';
import { predict, type PredictOptions } from './commands/predict.js';
import { publish, type PublishCliOptions } from './commands/publish.js';
import { quantize, type QuantizeOptions } from './commands/quantize.js';
import { CliError, EXIT_FAILURE, EXIT_USAGE } from './errors.js';
import { processIo, type Io } from './io.js';

const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function buildProgram(io: Io): Command {
  const program = new Command('edge-infer');
  // Set before any subcommand is added: commander copies these settings into each one.
  program
    .description(
      'Call the edge inference API: predictions, the model catalogue, API keys; publish and quantize models.',
    )
    .option('--base-url <url>', `the API's base URL (default: $EDGE_INFER_BASE_URL, else ${DEFAULT_BASE_URL})`)
    .option('--key <key>', 'API key (default: $EDGE_INFER_KEY, else the `npm start` dev key for a loopback URL)')
    .option('--json', "print the API's JSON answer, and nothing else, on stdout")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.out(s.replace(/\n$/, '')),
      writeErr: (s) => io.err(s.replace(/\n$/, '')),
    })
    .showHelpAfterError('(add --help for usage)');

  program
    .command('predict')
    .description('run a model on a text, a file (.png .jpg .wav as the body; .json as the request; .txt) or --inputs')
    .argument('<model>', 'a model id (its latest version) or id@version')
    .argument('[text]', 'the text to classify or embed')
    .option('--file <file>', 'read the input from a file')
    .option('--inputs <json>', 'the `inputs` as JSON (a row of numbers, a list of texts)')
    .option('--param <key=value>', 'a task parameter (repeatable; JSON values): top_k=3, explain=true', collect, [])
    .option('--no-cache', 'bypass the result cache (Cache-Control: no-store)')
    .addOption(
      new Option('--placement <where>', 'ask for a placement (the policy may refuse)').choices(['edge', 'origin']),
    )
    .action((model: string, text: string | undefined, _o: unknown, cmd: Command) =>
      predict(io, model, text, cmd.optsWithGlobals<PredictOptions>()),
    );

  const models = program.command('models').description('the model catalogue; publish and quantize models');
  models
    .command('list')
    .description('the models this key may call')
    .action((_o: unknown, cmd: Command) => listModels(io, cmd.optsWithGlobals<GlobalOptions>()));
  models
    .command('show')
    .description("a model's card")
    .argument('<model>', 'a model id or id@version')
    .action((model: string, _o: unknown, cmd: Command) => showModel(io, model, cmd.optsWithGlobals<GlobalOptions>()));
  models
    .command('publish')
    .description('validate an ONNX model in onnxruntime-web and upload it (local R2, or --remote)')
    .argument('<path>', 'a .onnx file, or a folder: a Hugging Face export (config.json, tokenizer files) or model.onnx')
    .requiredOption('--id <id>', 'model id: lowercase letters, digits and dashes')
    .option('--task <task>', "the task (default: a Hugging Face folder's architecture), e.g. token-classification")
    .option('--labels <a,b,c>', 'class labels, in output order')
    .option('--version <version>', 'version (default: a timestamp)')
    .option('--description <text>', "the card's description")
    .option('--license <text>', "the model's license")
    .option('--placement <where>', 'edge, origin or auto (default auto)')
    .option('--max-length <n>', "longest token sequence (text models; default the config's, at most 512)")
    .option('--remote', 'upload to the real R2 bucket through wrangler')
    .option('--bucket <name>', 'the bucket for --remote (default edge-inference-models)')
    .option('--persist <dir>', 'the local state to upload into (default .wrangler/state/v3)')
    .option('--out <dir>', 'also write the published layout here (alone: write only, upload nothing)')
    .action((path: string, _o: unknown, cmd: Command) => publish(io, path, cmd.optsWithGlobals<PublishCliOptions>()));
  models
    .command('quantize')
    .description('int8-quantize an fp32 ONNX model (MatMul, Gemm, Conv, Gather weights)')
    .argument('<in>', 'the fp32 .onnx file')
    .argument('<out>', 'where to write the int8 model')
    .addOption(new Option('--method <method>', 'dynamic or qdq').choices(['dynamic', 'qdq']).default('dynamic'))
    .option('--min-elements <n>', 'keep weights with fewer elements in fp32 (default 1024)')
    .option('--reduce-range', '7-bit weights (for CPUs without VNNI)')
    .action((input: string, output: string, _o: unknown, cmd: Command) =>
      quantize(io, input, output, cmd.optsWithGlobals<QuantizeOptions>()),
    );

  const keys = program.command('keys').description('API keys (needs an admin key)');
  keys
    .command('create')
    .description('create a key; its secret is printed once')
    .requiredOption('--name <name>', 'what the key is for')
    .option('--models <a,b*>', 'models it may call: ids or * globs (default: all)')
    .option('--admin', 'may manage keys')
    .option('--tier <tier>', 'rate-limit tier (default: default)')
    .action((_o: unknown, cmd: Command) => createKey(io, cmd.optsWithGlobals<CreateKeyOptions>()));
  keys
    .command('bootstrap')
    .description("a deployment's first admin key, written straight into the AUTH KV (no admin key needed)")
    .requiredOption('--name <name>', 'what the key is for')
    .option('--tier <tier>', 'rate-limit tier (default: default)')
    .option('--remote', 'the real namespace, through `wrangler kv key` (wrangler login first)')
    .option('--persist <dir>', 'the local state to write into (default .wrangler/state/v3)')
    .action((_o: unknown, cmd: Command) => bootstrapKey(io, cmd.optsWithGlobals<BootstrapOptions>()));
  keys
    .command('list')
    .description('every key, newest first (no secrets)')
    .action((_o: unknown, cmd: Command) => listKeys(io, cmd.optsWithGlobals<GlobalOptions>()));
  keys
    .command('revoke')
    .description('revoke a key by id')
    .argument('<id>', 'the key id (key_…)')
    .action((id: string, _o: unknown, cmd: Command) => revokeKey(io, id, cmd.optsWithGlobals<GlobalOptions>()));
  return program;
}

/** Runs one command line (without `node` and the script) and answers its exit code; never throws. */
export async function runCli(argv: readonly string[], io: Io = processIo): Promise<number> {
  try {
    await buildProgram(io).parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    // Commander has printed its own message (or the help) already.
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : EXIT_USAGE;
    if (err instanceof CliError) {
      io.err(`error: ${err.message}`);
      return err.exitCode;
    }
    // Local work that failed (publish's checks, a file that is not ONNX): the message; the stack only on request.
    const message = err instanceof Error ? err.message : String(err);
    io.err(`error: ${message}`);
    if (io.env['EDGE_INFER_DEBUG'] && err instanceof Error && err.stack !== undefined) io.err(err.stack);
    return EXIT_FAILURE;
  }
}
