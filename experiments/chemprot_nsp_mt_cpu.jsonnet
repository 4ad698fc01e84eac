// chemprot_nsp_mt.jsonnet sized for CPU: a small from-scratch encoder (tartan_fw/cpu.libsonnet), TAPT, DAPT
// and NSP under uniform weights. Ext-vars: steps (default 1000).
local cpu = import 'tartan_fw/cpu.libsonnet';
local ext = import 'tartan_fw/ext.libsonnet';
local paper = import 'tartan_fw/paper.libsonnet';

cpu(paper('chemprot', aux=['tapt', 'dapt', 'nsp'], weighter={ type: 'uniform' }, model='scratch'),
    steps=ext.number('steps', 1000))
