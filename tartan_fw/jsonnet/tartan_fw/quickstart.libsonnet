// The quickstart recipe: the paper's protocol in miniature (protocol.libsonnet has it at CPU
// size). MT-TARTAN with TAPT, masked-LM on the task's own training text (Table 1's setting: nothing
// beyond the task's public data), uniform weights, selection on dev; then the end-task alone is
// fine-tuned further and the better of the two phases on dev is kept. On a pretrained encoder by
// default. `task` is any task (lib.task's form: { dataset, metric }, e.g. your own folder;
// docs/tutorials/own-data.md). Ext-vars override the defaults given here:
//   model: the body: a hub name, a local directory, or 'scratch' (a small random-init BERT with a
//          tokenizer trained on the task's corpora, what the tests and the older CPU tables use);
//   steps: multitask steps, or epochs: passes over the end-task's training set instead;
//   aux: the auxiliary tasks as a comma-separated subset of tapt,dapt (dapt: the task's domain
//        corpus domain.1xTAPT.txt, where the data root has one; '' fine-tunes alone).
// A pretrained body reads 64 tokens at body lr 5e-5 (citation contexts are short; the scratch
// encoder's 1e-3 would wreck pretrained weights); the scratch one 128 tokens.
local ext = import 'ext.libsonnet';
local lib = import 'tartan.libsonnet';

function(task=lib.tasks.citation_intent, model='sentence-transformers/all-MiniLM-L6-v2', steps=300, aux='tapt', method='MT-TARTAN') {
  local spec = lib.task(task),
  local available = ['tapt'] + (if spec.dapt then ['dapt'] else []),
  local auxiliary = { tapt: lib.tapt(spec, 16), dapt: lib.dapt(spec, 16) },
  local chosen = [name for name in std.split(ext.get('aux', aux), ',') if name != ''],
  local body = ext.get('model', model),
  local scratch = body == 'scratch',
  local body_lr = if scratch then 1e-3 else 5e-5,
  local eval_every = if scratch then 100 else 50,
  local max_steps = ext.number('steps', steps),
  local what = if chosen == [] then 'fine-tuning only' else method + ' with ' + std.join(' and ', [std.asciiUpper(n) for n in chosen]) + ', then fine-tuning',

  description: 'quickstart on ' + spec.dataset + ': ' + what + ', ' + (if scratch then 'a small from-scratch encoder' else body),
  body: if scratch then lib.body(body, spec, 128) + lib.cpu_encoder else lib.body(body, spec, 64),
  end_task: lib.end_task(spec, 16),
  aux_tasks: [
    assert std.member(available, name) : "ext-var aux: unknown task '" + name + "'; use " + std.join(' or ', available);
    auxiliary[name]
    for name in chosen
  ],
  weighter: { type: 'uniform' },
  trainer: {
    type: 'tartan',
    max_steps: max_steps,
    body_lr: body_lr,
    head_lr: 1e-3,
    warmup_fraction: 0.06,
    eval_every: eval_every,
    // No early stopping: a from-scratch end-task sits at the majority class for a couple of hundred steps.
    patience: null,
    // Then the end-task alone for a third of the multitask budget (100 steps by default) at the
    // multitask stage's body lr; its checkpoint replaces the multitask one only if it scores better
    // on dev. Fine-tuning alone has no second phase.
    finetune: if chosen == [] then null else {
      max_steps: std.ceil(max_steps / 3), eval_every: eval_every, body_lr: body_lr, head_lr: body_lr,
    } + (if ext.has('epochs') then { max_epochs: ext.number('epochs', null) / 3 } else {}),
  } + (if ext.has('epochs') then { max_epochs: ext.number('epochs', null) } else {}),
}
