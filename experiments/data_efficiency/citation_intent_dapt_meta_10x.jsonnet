// Section 5.2 / Figure 2 at n = 10 x |Train|: META-TARTAN on citation_intent with DAPT (the 10x domain corpus,
// domain.10xTAPT.txt, not in the shared data; place it at $TARTAN_DATA/citation_intent/) as the auxiliary task.
// The 1x runs are ../citation_intent_dapt_meta.jsonnet. Ext-vars: model (default roberta-base), weight_lr (default 0.01, the released code's).
local ext = import 'tartan_fw/ext.libsonnet';
local paper = import 'tartan_fw/paper.libsonnet';
local lib = import 'tartan_fw/tartan.libsonnet';

paper('citation_intent', aux=['dapt'], weighter=lib.meta_weighter(ext.given(['weight_lr'])), model=ext.get('model', 'roberta-base'),
      dapt_corpus='citation_intent/domain.10xTAPT.txt')
