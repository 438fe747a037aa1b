// runner.mjs runs differential-test cases and throughput benchmarks through
// aws-local-stepfunctions, the independent npm ASL engine that Lethe's
// interpreter is compared with. One process serves a whole test run: it
// reads requests from stdin, one JSON object a line, and answers each with
// one JSON line on stdout, in order.
//
//   node runner.mjs <path to node_modules/aws-local-stepfunctions>
//
// Request  {"id", "kind": "case", "definition", "input", "functions",
//           "machines", "context"}
// Answer   {"id", "status": "SUCCEEDED"|"FAILED"|"INVALID", "output",
//           "error", "cause"}
// Request  {"id", "kind": "bench", ... as a case ..., "n"}
// Answer   {"id", "executions", "seconds", "perSecond", "last": answer}
//
// A function spec (the same on the Go side) is one of
//   {"return": V}                  returns V
//   {"return": {...}, "inputAs": K} returns the object with K set to the payload
//   {"echo": true}                 returns the payload
//   {"fail": {"error": E, "message": M}}  fails with errorType E
//   {"sequence": [spec, ...]}      call i of the execution uses spec i (the
//                                  last one repeats)
//
// Tasks are served by stubs that behave exactly like the Go side's
// (difftest_test.go): Lambda functions from the declarative "functions"
// specs, sns:publish by a recorder, and states:startExecution.sync:2 by
// running the child definition from "machines" in this same engine. Waits
// and retry intervals are overridden to 0 ms (Lethe's side runs them on a
// fake clock), so no case sleeps.

import { pathToFileURL } from 'node:url';
import { createInterface } from 'node:readline';

// Node 20 lacks Promise.withResolvers, which the package uses.
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers() {
    let resolve;
    let reject;
    const promise = new Promise((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

const pkg = process.argv[2];
if (!pkg) {
  process.stderr.write('usage: node runner.mjs <path to aws-local-stepfunctions>\n');
  process.exit(2);
}
const { StateMachine } = await import(pathToFileURL(`${pkg}/build/main.node.esm.js`).href);

// LambdaError is what a stub function throws: its name is the errorType
// Step Functions matches in Retry/Catch, its message the cause AWS reports
// for a Lambda function error (the function's error payload as JSON text).
class LambdaError extends Error {
  constructor(type, message) {
    super(JSON.stringify({ errorMessage: message, errorType: type }));
    this.name = type;
  }
}

// TaskFailed is a failed .sync child execution.
class TaskFailed extends Error {
  constructor(cause) {
    super(cause);
    this.name = 'States.TaskFailed';
  }
}

function functionName(s) {
  const parts = String(s).split(':');
  const i = parts.indexOf('function');
  return i >= 0 && i + 1 < parts.length ? parts[i + 1] : parts[0];
}

// callFunction runs one invocation of a declarative stub function.
function callFunction(env, name, payload) {
  const spec = env.functions[name];
  if (!spec) {
    throw new LambdaError('ResourceNotFoundException', `Function not found: ${name}`);
  }
  const n = env.calls[name] ?? 0;
  env.calls[name] = n + 1;
  let s = spec;
  if (s.sequence) {
    s = s.sequence[Math.min(n, s.sequence.length - 1)];
  }
  if (s.fail) {
    throw new LambdaError(s.fail.error, s.fail.message ?? '');
  }
  if (s.echo) {
    return JSON.parse(JSON.stringify(payload ?? null));
  }
  const out = JSON.parse(JSON.stringify(s.return ?? null));
  if (s.inputAs) {
    out[s.inputAs] = JSON.parse(JSON.stringify(payload ?? null));
  }
  return out;
}

// overridesFor walks a definition (branches and item processors included)
// and builds the npm engine's per-state overrides: every Task state gets a
// local handler, every Wait and every Retry a 0 ms pause.
function overridesFor(definition, env) {
  const o = { taskResourceLocalHandlers: {}, waitTimeOverrides: {}, retryIntervalOverrides: {} };
  const walk = (branch) => {
    for (const [name, st] of Object.entries(branch.States ?? {})) {
      if (st.Type === 'Task') {
        o.taskResourceLocalHandlers[name] = taskHandler(st.Resource, env);
      }
      if (st.Type === 'Wait') {
        o.waitTimeOverrides[name] = 0;
      }
      if (st.Retry) {
        o.retryIntervalOverrides[name] = 0;
      }
      for (const b of st.Branches ?? []) walk(b);
      if (st.ItemProcessor) walk(st.ItemProcessor);
      if (st.Iterator) walk(st.Iterator);
    }
  };
  walk(definition);
  return o;
}

function taskHandler(resource, env) {
  if (/^arn:aws:lambda:[^:]*:[^:]*:function:/.test(resource)) {
    const name = functionName(resource);
    return async (input) => callFunction(env, name, input);
  }
  if (resource === 'arn:aws:states:::lambda:invoke') {
    return async (input) => ({
      ExecutedVersion: '$LATEST',
      Payload: callFunction(env, functionName(input.FunctionName), input.Payload),
      StatusCode: 200,
    });
  }
  if (resource === 'arn:aws:states:::sns:publish') {
    return async (input) => {
      env.published.push(input);
      return { MessageId: `msg-${env.published.length}` };
    };
  }
  if (resource === 'arn:aws:states:::states:startExecution.sync:2') {
    return async (input) => runChild(env, input);
  }
  return async () => {
    const e = new Error(`no stub serves the resource ${resource}`);
    e.name = 'States.Runtime';
    throw e;
  };
}

// runChild is states:startExecution.sync:2: the child definition runs in
// this engine with its own stubs; the task result is DescribeExecution's.
async function runChild(env, params) {
  const arn = params.StateMachineArn;
  const def = env.machines[arn];
  if (!def) {
    const e = new Error(`State Machine Does Not Exist: '${arn}'`);
    e.name = 'StepFunctions.StateMachineDoesNotExistException';
    throw e;
  }
  const input = typeof params.Input === 'string' ? JSON.parse(params.Input) : (params.Input ?? {});
  const name = params.Name ?? 'child';
  const execArn = `${arn.replace(':stateMachine:', ':execution:')}:${name}`;
  const sm = machineFor(env, def);
  const context = { ...env.context, Execution: { ...(env.context?.Execution ?? {}), Id: execArn, Name: name } };
  try {
    const output = await sm.run(input, { overrides: overridesFor(def, env), context }).result;
    return { ExecutionArn: execArn, Input: input, Name: name, Output: output, StateMachineArn: arn, Status: 'SUCCEEDED' };
  } catch (err) {
    const inner = err.cause ?? err;
    throw new TaskFailed(JSON.stringify({ ExecutionArn: execArn, Status: 'FAILED', Error: inner.name, Cause: inner.message }));
  }
}

// machineFor parses (and validates) each definition once per request.
function machineFor(env, def) {
  let sm = env.parsed.get(def);
  if (!sm) {
    sm = new StateMachine(def, { validationOptions: { checkArn: true, checkPaths: true } });
    env.parsed.set(def, sm);
  }
  return sm;
}

function newEnv(req) {
  return {
    functions: req.functions ?? {},
    machines: req.machines ?? {},
    context: req.context ?? undefined,
    calls: {},
    published: [],
    parsed: new Map(),
  };
}

// runOnce runs one execution and describes its end.
async function runOnce(req, env, sm) {
  try {
    const output = await sm.run(req.input ?? {}, {
      overrides: overridesFor(req.definition, env),
      context: env.context,
    }).result;
    return { status: 'SUCCEEDED', output: output === undefined ? null : output };
  } catch (err) {
    const inner = err.cause ?? err;
    return { status: 'FAILED', error: inner.name, cause: String(inner.message ?? '') };
  }
}

async function handleCase(req) {
  const env = newEnv(req);
  let sm;
  try {
    sm = machineFor(env, req.definition);
    for (const d of Object.values(env.machines)) machineFor(env, d);
  } catch (err) {
    return { status: 'INVALID', error: 'InvalidDefinition', cause: String(err.message) };
  }
  return runOnce(req, env, sm);
}

// handleBench runs n executions one after another with the definition
// parsed once (as Lethe's benchmark does) and times them.
async function handleBench(req) {
  const env = newEnv(req);
  const sm = machineFor(env, req.definition);
  for (const d of Object.values(env.machines)) machineFor(env, d);
  let last = await runOnce(req, env, sm); // warm-up, not timed
  const n = req.n ?? 200;
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    env.calls = {};
    env.published = [];
    last = await runOnce(req, env, sm);
    if (last.status !== 'SUCCEEDED') break;
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { executions: n, seconds, perSecond: n / seconds, last };
}

const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of rl) {
  if (!line.trim()) continue;
  let req;
  try {
    req = JSON.parse(line);
  } catch (err) {
    process.stdout.write(JSON.stringify({ id: null, status: 'INVALID', error: 'BadRequest', cause: String(err) }) + '\n');
    continue;
  }
  let res;
  try {
    res = req.kind === 'bench' ? await handleBench(req) : await handleCase(req);
  } catch (err) {
    res = { status: 'RUNNER_ERROR', error: err?.name ?? 'Error', cause: String(err?.stack ?? err) };
  }
  process.stdout.write(JSON.stringify({ id: req.id, ...res }) + '\n');
}
