// META-TARTAN on sciie with DAPT as the only auxiliary task (paper Table 4). Differs from
// sciie_dapt_mt.jsonnet only in the weighter.
// Ext-vars: model (default roberta-base), dapt_corpus (default sciie/domain.1xTAPT.txt), weight_lr (default 0.01, the released code's).
local ext = import 'tartan_fw/ext.libsonnet';
local paper = import 'tartan_fw/paper.libsonnet';
local lib = import 'tartan_fw/tartan.libsonnet';

paper('sciie', aux=['dapt'], weighter=lib.meta_weighter(ext.given(['weight_lr'])), model=ext.get('model', 'roberta-base'),
      dapt_corpus=ext.get('dapt_corpus', null))
