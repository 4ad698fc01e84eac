// Quickstart with META-TARTAN: quickstart.jsonnet (citation_intent, MiniLM, TAPT and DAPT) with task
// weights meta-learned from the end-task's dev gradient instead of uniform ones. Same ext-vars.
local lib = import 'lib/tartan.libsonnet';

(import 'quickstart.jsonnet') + {
  description: std.strReplace(super.description, 'MT-TARTAN', 'META-TARTAN'),
  weighter: lib.cpu_meta_weighter(),
}
