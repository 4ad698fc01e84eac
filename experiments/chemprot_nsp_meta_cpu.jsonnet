// chemprot_nsp_meta.jsonnet sized for CPU: a small from-scratch encoder (lib/cpu.libsonnet), TAPT, DAPT
// and NSP under meta-learned weights (lib.cpu_meta_weighter).
// Ext-vars: steps (default 1000), weight_lr (default 0.1, lib.cpu_meta_weighter).
local cpu = import 'lib/cpu.libsonnet';
local ext = import 'lib/ext.libsonnet';
local paper = import 'lib/paper.libsonnet';
local lib = import 'lib/tartan.libsonnet';

local weighter = lib.cpu_meta_weighter(ext.given(['weight_lr']));
cpu(paper('chemprot', aux=['tapt', 'dapt', 'nsp'], weighter=weighter, model='scratch'), steps=ext.number('steps', 1000))
