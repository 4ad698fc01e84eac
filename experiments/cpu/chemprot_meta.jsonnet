// META-TARTAN: the end-task and TAPT under meta-learned weights on chemprot, CPU-sized: a small from-scratch encoder (tartan_fw/cpu_comparison.libsonnet).
// Ext-vars: steps (default 400), weight_lr (default 0.1, lib.cpu_meta_weighter).
local comparison = import 'tartan_fw/cpu_comparison.libsonnet';
local ext = import 'tartan_fw/ext.libsonnet';

comparison('chemprot', 'meta', steps=ext.number('steps', 400), meta=ext.given(['weight_lr']))
