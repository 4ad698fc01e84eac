// chemprot_nsp_mt.jsonnet sized for CPU: a small from-scratch encoder (lib/cpu.libsonnet), TAPT, DAPT
// and NSP under uniform weights. Ext-vars: steps (default 1000).
local cpu = import 'lib/cpu.libsonnet';
local ext = import 'lib/ext.libsonnet';
local paper = import 'lib/paper.libsonnet';

cpu(paper('chemprot', aux=['tapt', 'dapt', 'nsp'], weighter={ type: 'uniform' }, model='scratch'),
    steps=ext.number('steps', 1000))
