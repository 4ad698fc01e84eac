// MT-TARTAN: the end-task and TAPT under uniform weights on chemprot, CPU-sized: a small from-scratch encoder (tartan_fw/cpu_comparison.libsonnet).
// Ext-vars: steps (default 400).
local comparison = import 'tartan_fw/cpu_comparison.libsonnet';
local ext = import 'tartan_fw/ext.libsonnet';

comparison('chemprot', 'mt', steps=ext.number('steps', 400))
