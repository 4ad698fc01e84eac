// The paper's Table 1 comparison (fine-tuning, TAPT, MT-TARTAN, META-TARTAN; TAPT the only auxiliary
// data) shrunk to a couple of CPU cores: a small from-scratch encoder (as in quickstart.jsonnet),
// 128 tokens, 16 examples per task and step, `steps` steps. Compute is matched where the methods
// allow: TAPT pretrains for `steps` steps of the same masked-LM batches that MT/META-TARTAN see
// alongside the end-task, then fine-tunes with the fine-tuning run's schedule.
local lib = import 'tartan.libsonnet';

// meta: META-TARTAN settings over lib.cpu_meta_weighter's.
function(task_name, method, steps=400, meta={})
  local task = lib.tasks[task_name];
  local trainer = {
    type: 'tartan',
    max_steps: steps,
    body_lr: 5e-4,  // a from-scratch encoder needs a larger rate than the paper's 1e-4 (quickstart's value)
    head_lr: 1e-3,
    eval_every: 50,
    // No patience (no early stopping, the default): a from-scratch encoder predicts the majority class for
    // the first ~200 steps, and with patience the slower multitask runs stopped on that plateau. The best
    // dev checkpoint is kept.
  };
  local common = {
    description: method + ' on ' + task_name + ', CPU-sized (from-scratch encoder)',
    body: lib.body('scratch', task, 128) + lib.cpu_encoder,
    end_task: lib.end_task(task, 16),
  };
  local methods = {
    finetune: common + { trainer: trainer },
    tapt: common + {
      stages: [
        { name: 'tapt', aux_tasks: [lib.tapt(task, 16)],
          trainer: { type: 'pretrain', max_steps: steps, lr: trainer.body_lr } },
        { name: 'finetune', trainer: trainer },
      ],
    },
    mt: common + { aux_tasks: [lib.tapt(task, 16)], weighter: { type: 'uniform' }, trainer: trainer },
    meta: self.mt + { weighter: lib.cpu_meta_weighter(meta) },
  };
  assert std.objectHas(methods, method) : 'method must be one of ' + std.join(', ', std.objectFields(methods));
  methods[method]
