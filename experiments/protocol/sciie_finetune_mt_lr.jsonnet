// Fine-tuning alone on sciie at MT-TARTAN's learning rates: a control beside the paper's protocol
// (lib/protocol.libsonnet says why). Ext-vars: model (default all-MiniLM-L6-v2).
local ext = import '../lib/ext.libsonnet';

(import '../lib/protocol.libsonnet')('sciie', 'finetune_mt_lr', ext.get('model', 'sentence-transformers/all-MiniLM-L6-v2'))
