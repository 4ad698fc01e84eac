// chemprot_nsp_meta.jsonnet sized for CPU: a small from-scratch encoder (tartan_fw/cpu.libsonnet), TAPT, DAPT
// and NSP under meta-learned weights (lib.cpu_meta_weighter).
// Ext-vars: steps (default 1000), weight_lr (default 0.1, lib.cpu_meta_weighter).
local cpu = import 'tartan_fw/cpu.libsonnet';
local ext = import 'tartan_fw/ext.libsonnet';
local paper = import 'tartan_fw/paper.libsonnet';
local lib = import 'tartan_fw/tartan.libsonnet';

local weighter = lib.cpu_meta_weighter(ext.given(['weight_lr']));
cpu(paper('chemprot', aux=['tapt', 'dapt', 'nsp'], weighter=weighter, model='scratch'), steps=ext.number('steps', 1000))
