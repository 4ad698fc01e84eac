// MT-TARTAN on citation_intent with DAPT as the only auxiliary task (paper Table 4), uniform weights.
// Table 4 used a domain corpus 10x the task's training set; point dapt_corpus at one where you have it.
// Ext-vars: model (default roberta-base), dapt_corpus (default citation_intent/domain.1xTAPT.txt).
local ext = import 'tartan_fw/ext.libsonnet';
local paper = import 'tartan_fw/paper.libsonnet';

paper('citation_intent', aux=['dapt'], weighter={ type: 'uniform' }, model=ext.get('model', 'roberta-base'),
      dapt_corpus=ext.get('dapt_corpus', null))
