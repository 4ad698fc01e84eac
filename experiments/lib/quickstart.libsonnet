// The quickstart recipe: MT-TARTAN with TAPT (and DAPT where the task has a domain corpus) masked-LM
// auxiliary tasks and uniform weights, on a pretrained encoder by default. `task` is any task
// (lib.task's form: { dataset, metric }, e.g. your own folder; docs/datasets.md). Ext-vars override
// the defaults given here:
//   model: the body: a hub name, a local directory, or 'scratch' (a small random-init BERT with a
//          tokenizer trained on the task's corpora, what the tests and the older CPU tables use);
//   steps: training steps, or epochs: passes over the end-task's training set instead;
//   aux: the auxiliary tasks as a comma-separated subset of tapt,dapt ('' fine-tunes alone).
// A pretrained body reads 64 tokens at body lr 5e-5 (citation contexts are short; the scratch
// encoder's 1e-3 would wreck pretrained weights); the scratch one 128 tokens.
local ext = import 'ext.libsonnet';
local lib = import 'tartan.libsonnet';

function(task=lib.tasks.citation_intent, model='sentence-transformers/all-MiniLM-L6-v2', steps=300) {
  local spec = lib.task(task),
  local available = ['tapt'] + (if spec.dapt then ['dapt'] else []),
  local auxiliary = { tapt: lib.tapt(spec, 16), dapt: lib.dapt(spec, 16) },
  local chosen = [name for name in std.split(ext.get('aux', std.join(',', available)), ',') if name != ''],
  local body = ext.get('model', model),
  local scratch = body == 'scratch',

  description: 'MT-TARTAN quickstart on ' + spec.dataset + ' with ' + (if scratch then 'a small from-scratch encoder' else body),
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
    max_steps: ext.number('steps', steps),
    body_lr: if scratch then 1e-3 else 5e-5,
    head_lr: 1e-3,
    warmup_fraction: 0.06,
    eval_every: if scratch then 100 else 50,
    // No early stopping: a from-scratch end-task sits at the majority class for a couple of hundred steps.
    patience: null,
  } + (if ext.has('epochs') then { max_epochs: ext.number('epochs', null) } else {}),
}
