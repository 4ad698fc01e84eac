// Quickstart with META-TARTAN: quickstart.jsonnet (citation_intent, MiniLM, TAPT, final fine-tuning)
// with task weights meta-learned from the end-task's dev gradient instead of uniform ones. Same ext-vars.
local lib = import 'tartan_fw/tartan.libsonnet';

(import 'tartan_fw/quickstart.libsonnet')(method='META-TARTAN') + {
  weighter: lib.cpu_meta_weighter(),
}
