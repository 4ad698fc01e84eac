// META-TARTAN on citation_intent with DAPT as the only auxiliary task (paper Table 4). Differs from
// citation_intent_dapt_mt.jsonnet only in the weighter.
// Ext-vars: model (default roberta-base), dapt_corpus (default citation_intent/domain.1xTAPT.txt), weight_lr (default 0.01, the released code's).
local ext = import 'tartan_fw/ext.libsonnet';
local paper = import 'tartan_fw/paper.libsonnet';
local lib = import 'tartan_fw/tartan.libsonnet';

paper('citation_intent', aux=['dapt'], weighter=lib.meta_weighter(ext.given(['weight_lr'])), model=ext.get('model', 'roberta-base'),
      dapt_corpus=ext.get('dapt_corpus', null))
