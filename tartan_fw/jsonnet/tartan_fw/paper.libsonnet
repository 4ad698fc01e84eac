// The paper's setting for one end-task: RoBERTa-base (switch with --ext-var model=...), 512 tokens,
// other hyper-parameters as in Gururangan et al. (2020) unless the paper chose its own grid; the
// choices we had to make within a grid are commented.
local lib = import 'tartan.libsonnet';

// dapt_corpus: the DAPT text file (default the task's 1x domain corpus; Table 4 used a 10x one).
function(task_name, aux=['tapt', 'dapt'], weighter={ type: 'uniform' }, model='roberta-base', dapt_corpus=null)
  local task = lib.tasks[task_name];
  local end_batch = 128;  // smallest of the paper's head batch sizes {128, 256, 512}
  local aux_batch = 32;  // per masked-LM task and step; chosen, not given by the paper
  local epochs = 150;  // upper bound; early stopping on dev decides
  local steps_per_epoch = lib.steps(task, 1, end_batch);
  {
    description: 'Dery et al. (2022) on ' + task_name,
    body: lib.body(model, task, 512),
    end_task: lib.end_task(task, end_batch),
    local auxiliary = {
      tapt: lib.tapt(task, aux_batch),
      dapt: if dapt_corpus == null then lib.dapt(task, aux_batch) else lib.dapt(task, aux_batch, corpus=dapt_corpus),
      nsp: lib.nsp(task, aux_batch),
    },
    aux_tasks: [
      assert std.objectHas(auxiliary, name) : "aux: unknown task '" + name + "'; use " + std.join(', ', std.objectFields(auxiliary));
      auxiliary[name]
      for name in aux
    ],
    weighter: weighter,
    trainer: {
      type: 'tartan',
      max_steps: lib.steps(task, epochs, end_batch),
      // Defaults kept: body_lr 1e-4 (from the paper's grid {1e-3, 1e-4, 1e-5}), head_lr 1e-3,
      // warmup_fraction 0.06 (Gururangan et al., 2020), max_grad_norm 1.0.
      weight_decay: 0.1,  // Gururangan et al. (2020)
      accumulation_steps: 4,  // 128 x 512 tokens of roberta-base does not fit most GPUs at once
      eval_every: steps_per_epoch,
      patience: 20,  // epochs without dev improvement
      // Optional final fine-tuning on the end-task alone (section 3.1), Gururangan et al.'s settings
      // (the stage's defaults: lr 2e-5 for body and head, 6% warmup).
      finetune: {
        max_steps: lib.steps(task, 10, 16),
        eval_every: lib.steps(task, 1, 16),
        patience: 3,
      },
    },
  }
