// TAPT (masked-LM pretraining on the task's text), then fine-tuning on sciie, CPU-sized: a small from-scratch encoder (tartan_fw/cpu_comparison.libsonnet).
// Ext-vars: steps (default 400).
local comparison = import 'tartan_fw/cpu_comparison.libsonnet';
local ext = import 'tartan_fw/ext.libsonnet';

comparison('sciie', 'tapt', steps=ext.number('steps', 400))
