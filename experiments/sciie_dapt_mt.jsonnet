// MT-TARTAN on sciie with DAPT as the only auxiliary task (paper Table 4), uniform weights.
// Table 4 used a domain corpus 10x the task's training set; point dapt_corpus at one where you have it.
// Ext-vars: model (default roberta-base), dapt_corpus (default sciie/domain.1xTAPT.txt).
local ext = import 'tartan_fw/ext.libsonnet';
local paper = import 'tartan_fw/paper.libsonnet';

paper('sciie', aux=['dapt'], weighter={ type: 'uniform' }, model=ext.get('model', 'roberta-base'),
      dapt_corpus=ext.get('dapt_corpus', null))
