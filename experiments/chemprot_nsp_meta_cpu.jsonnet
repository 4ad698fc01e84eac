// chemprot_nsp_meta.jsonnet sized for CPU: a small from-scratch encoder (lib/cpu.libsonnet), TAPT, DAPT
// and NSP under meta-learned weights (meta head fitted on 16 examples, 16 dev examples per step).
// Ext-vars: steps (default 1000), weight_lr (default 0.1).
local cpu = import 'lib/cpu.libsonnet';
local ext = import 'lib/ext.libsonnet';
local paper = import 'lib/paper.libsonnet';
local lib = import 'lib/tartan.libsonnet';

local weighter = lib.meta_weighter(ext.number('weight_lr', 0.1)) + { meta_batch_size: 16, dev_batch_size: 16 };
cpu(paper('chemprot', aux=['tapt', 'dapt', 'nsp'], weighter=weighter, model='scratch'), steps=ext.number('steps', 1000))
