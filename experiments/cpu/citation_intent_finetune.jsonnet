// Fine-tuning only on citation_intent, CPU-sized: a small from-scratch encoder (tartan_fw/cpu_comparison.libsonnet).
// Ext-vars: steps (default 400).
local comparison = import 'tartan_fw/cpu_comparison.libsonnet';
local ext = import 'tartan_fw/ext.libsonnet';

comparison('citation_intent', 'finetune', steps=ext.number('steps', 400))
