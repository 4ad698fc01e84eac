// Fine-tuning only on sciie (Gururangan et al., 2020's settings): the RoBERTa column of the paper's Table 1.
// To fine-tune a released checkpoint of Gururangan et al. instead (the paper's TAPT/DAPT baselines used
// them), name it: --ext-var model=allenai/sciie_roberta_tapt_base (TAPT), allenai/cs_roberta_base
// (DAPT on the full domain corpus) or allenai/sciie_roberta_dapt_tapt_base (DAPT+TAPT).
// Ext-vars: model (default roberta-base; a hub name, a local directory, or 'scratch').
local baselines = import 'tartan_fw/baselines.libsonnet';
local ext = import 'tartan_fw/ext.libsonnet';

baselines.finetune('sciie', ext.get('model', 'roberta-base'))
