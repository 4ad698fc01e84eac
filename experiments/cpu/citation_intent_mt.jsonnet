// MT-TARTAN: the end-task and TAPT under uniform weights on citation_intent, CPU-sized: a small from-scratch encoder (lib/cpu_comparison.libsonnet).
// Ext-vars: steps (default 400).
local comparison = import '../lib/cpu_comparison.libsonnet';
local ext = import '../lib/ext.libsonnet';

comparison('citation_intent', 'mt', steps=ext.number('steps', 400))
