// META-TARTAN: the end-task and TAPT under meta-learned weights on chemprot, CPU-sized: a small from-scratch encoder (lib/cpu_comparison.libsonnet).
// Ext-vars: steps (default 400), weight_lr (default 0.1, lib.cpu_meta_weighter).
local comparison = import '../lib/cpu_comparison.libsonnet';
local ext = import '../lib/ext.libsonnet';

comparison('chemprot', 'meta', steps=ext.number('steps', 400), meta=ext.given(['weight_lr']))
