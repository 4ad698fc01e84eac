// Fine-tuning alone on citation_intent at MT-TARTAN's learning rates: a control beside the paper's protocol
// (tartan_fw/protocol.libsonnet says why). Ext-vars: model (default all-MiniLM-L6-v2).
local ext = import 'tartan_fw/ext.libsonnet';

(import 'tartan_fw/protocol.libsonnet')('citation_intent', 'finetune_mt_lr', ext.get('model', 'sentence-transformers/all-MiniLM-L6-v2'))
