// Fine-tuning only on hyperpartisan, CPU-sized: a small from-scratch encoder (lib/cpu_comparison.libsonnet).
// Ext-vars: steps (default 400).
local comparison = import '../lib/cpu_comparison.libsonnet';
local ext = import '../lib/ext.libsonnet';

comparison('hyperpartisan', 'finetune', steps=ext.number('steps', 400))
