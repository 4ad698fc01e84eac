// Quickstart with META-TARTAN: quickstart.jsonnet (citation_intent, small from-scratch encoder, TAPT
// and DAPT) with task weights meta-learned from the end-task's dev gradient instead of uniform ones.
// Ext-vars: steps (default 600).
local lib = import 'lib/tartan.libsonnet';

(import 'quickstart.jsonnet') + {
  description: 'META-TARTAN quickstart on citation_intent with a small from-scratch encoder',
  weighter: lib.cpu_meta_weighter(),
}
