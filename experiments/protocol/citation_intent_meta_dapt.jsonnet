// meta_dapt on citation_intent under the paper's protocol at CPU size: Table 4's setting, DAPT the only auxiliary data
// (tartan_fw/protocol.libsonnet says what follows the released code and where it departs). Ext-vars: model
// (default all-MiniLM-L6-v2).
local ext = import 'tartan_fw/ext.libsonnet';

(import 'tartan_fw/protocol.libsonnet')('citation_intent', 'meta_dapt', ext.get('model', 'sentence-transformers/all-MiniLM-L6-v2'))
