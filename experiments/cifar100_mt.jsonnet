// The paper's vision experiment (appendix A.4) under MT-TARTAN: CIFAR-100's medium-sized mammals
// (superclass 12: fox, porcupine, possum, raccoon, skunk) as a 5-way end-task, the other 95 classes
// as one auxiliary task, on a small CNN trained from scratch with uniform task weights.
// Needs the plugins/cifar plugin (run from the project root). Data: <data root>/cifar100/cifar-100-python,
// downloaded on first use. The paper gives no schedule; ours is ~110 epochs of the end-task's 2250
// training images (250 are held out as dev) with early stopping on dev accuracy.
// Ext-vars: steps (default 4000).
local ext = import 'tartan_fw/ext.libsonnet';
local superclass = 12;

{
  description: 'MT-TARTAN on CIFAR-100 medium-sized mammals with the other 95 classes as one auxiliary task',
  include: ['plugins.cifar'],
  body: { type: 'cifar_cnn', channels: [32, 64, 128] },
  end_task: {
    type: 'cifar100_superclass',
    superclass: superclass,
    batch_size: 64,
    head: { type: 'classification', dropout: 0.1 },
  },
  aux_tasks: [{ type: 'cifar100_other_classes', name: 'other_classes', superclass: superclass, batch_size: 64 }],
  weighter: { type: 'uniform' },
  trainer: {
    type: 'tartan',
    max_steps: ext.number('steps', 4000),
    body_lr: 1e-3,
    head_lr: 1e-3,
    weight_decay: 5e-4,
    warmup_fraction: 0.02,
    eval_every: 100,
    patience: 10,
  },
}
