// Shrinks a paper-sized experiment (paper.libsonnet with model='scratch') to run on a couple of CPU
// cores in under half an hour: the quickstart's small encoder, 128 tokens, 16 examples per task and step, and
// a short schedule. Task choice and weighter are kept, so a CPU run tries the same comparison.
// No early stopping: a small scratch encoder stays at the majority class for hundreds of steps on
// chemprot (dev micro-F1 flat until ~step 700), which patience would take for convergence.
// About 25 minutes for 1000 steps of chemprot with TAPT, DAPT and NSP on 2 busy cores with
// OMP_NUM_THREADS=1 (the default thread count oversubscribes a shared machine badly).
local lib = import 'tartan.libsonnet';

function(config, steps=1000) config + {
  description: config.description + ', CPU-sized (small scratch encoder)',
  body+: { max_length: 128 } + lib.cpu_encoder,
  end_task+: { batch_size: 16 },
  aux_tasks: [task { batch_size: 16 } for task in config.aux_tasks],
  trainer: {
    type: 'tartan',
    max_steps: steps,
    body_lr: 5e-4,
    head_lr: 1e-3,
    eval_every: 100,
  },
}
