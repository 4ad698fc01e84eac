// Control under META-TARTAN: citation_intent_control_mt.jsonnet with meta-learned task weights.
// Ext-vars: steps (default 600) and aux, as in quickstart.jsonnet.
local lib = import 'tartan_fw/tartan.libsonnet';

(import 'citation_intent_control_mt.jsonnet') + {
  description: 'META-TARTAN on citation_intent with a random-labels control task',
  weighter: lib.cpu_meta_weighter(),
}
