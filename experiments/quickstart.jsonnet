// Quickstart: MT-TARTAN on citation_intent (ACL-ARC) with a small from-scratch encoder, TAPT and
// DAPT masked-LM auxiliary tasks and uniform weights. Runs in a few minutes on 2 CPU cores.
// Ext-vars: steps (default 600); aux, the auxiliary tasks as a comma-separated subset of tapt,dapt
// (default 'tapt,dapt'; '' fine-tunes on the end-task alone); model, the body (default 'scratch';
// a hub name or local directory selects a pretrained encoder, which wants a lower body_lr).
local ext = import 'lib/ext.libsonnet';
local lib = import 'lib/tartan.libsonnet';
local task = lib.tasks.citation_intent;
local auxiliary = { tapt: lib.tapt(task, 16), dapt: lib.dapt(task, 16) };
local chosen = [name for name in std.split(ext.get('aux', 'tapt,dapt'), ',') if name != ''];
local model = ext.get('model', 'scratch');

{
  description: 'MT-TARTAN quickstart on citation_intent with a small from-scratch encoder',
  body: lib.body(model, task, 128) + (if model == 'scratch' then lib.cpu_encoder else {}),
  end_task: lib.end_task(task, 16),
  aux_tasks: [
    assert std.objectHas(auxiliary, name) : "ext-var aux: unknown task '" + name + "'; use tapt, dapt or both";
    auxiliary[name]
    for name in chosen
  ],
  weighter: { type: 'uniform' },
  trainer: {
    type: 'tartan',
    max_steps: ext.number('steps', 600),
    // A from-scratch encoder needs a larger rate than a pretrained one; without early stopping,
    // since the end-task sits at the majority class for the first couple of hundred steps.
    body_lr: 1e-3,
    head_lr: 1e-3,
    warmup_fraction: 0.06,
    eval_every: 100,
    patience: null,
  },
}
