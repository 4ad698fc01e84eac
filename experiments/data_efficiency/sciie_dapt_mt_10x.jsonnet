// Section 5.2 / Figure 2 at n = 10 x |Train|: MT-TARTAN on sciie with DAPT (the 10x domain corpus,
// domain.10xTAPT.txt, not in the shared data; place it at $TARTAN_DATA/sciie/) as the auxiliary task.
// The 1x runs are ../sciie_dapt_mt.jsonnet. Ext-vars: model (default roberta-base).
local ext = import 'tartan_fw/ext.libsonnet';
local paper = import 'tartan_fw/paper.libsonnet';

paper('sciie', aux=['dapt'], weighter={ type: 'uniform' }, model=ext.get('model', 'roberta-base'),
      dapt_corpus='sciie/domain.10xTAPT.txt')
