// mt on sciie under the paper's protocol at CPU size (tartan_fw/protocol.libsonnet says what follows the
// released code and where it departs). Ext-vars: model (default all-MiniLM-L6-v2).
local ext = import 'tartan_fw/ext.libsonnet';

(import 'tartan_fw/protocol.libsonnet')('sciie', 'mt', ext.get('model', 'sentence-transformers/all-MiniLM-L6-v2'))
