// Section 5.2 / Figure 2 at n = 10 x |Train|: MT-TARTAN on citation_intent with DAPT (the 10x domain corpus,
// domain.10xTAPT.txt, not in the shared data; place it at $TARTAN_DATA/citation_intent/) as the auxiliary task.
// The 1x runs are ../citation_intent_dapt_mt.jsonnet. Ext-vars: model (default roberta-base).
local ext = import 'tartan_fw/ext.libsonnet';
local paper = import 'tartan_fw/paper.libsonnet';

paper('citation_intent', aux=['dapt'], weighter={ type: 'uniform' }, model=ext.get('model', 'roberta-base'),
      dapt_corpus='citation_intent/domain.10xTAPT.txt')
