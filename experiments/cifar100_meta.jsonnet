// The paper's vision experiment (appendix A.4) under META-TARTAN: cifar100_mt.jsonnet with the weights
// of the end-task and of the 95-class auxiliary task meta-learned from the end-task's dev gradient.
// Ext-vars: steps (default 4000), weight_lr (default 0.01, the released code's).
local ext = import 'tartan_fw/ext.libsonnet';
local lib = import 'tartan_fw/tartan.libsonnet';

(import 'cifar100_mt.jsonnet') + {
  description: 'META-TARTAN on CIFAR-100 medium-sized mammals with the other 95 classes as one auxiliary task',
  weighter: lib.meta_weighter(ext.given(['weight_lr'])),
}
