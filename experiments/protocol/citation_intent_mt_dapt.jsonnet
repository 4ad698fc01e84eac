// mt_dapt on citation_intent under the paper's protocol at CPU size: Table 4's setting, DAPT the only auxiliary data
// (lib/protocol.libsonnet says what follows the released code and where it departs). Ext-vars: model
// (default all-MiniLM-L6-v2).
local ext = import '../lib/ext.libsonnet';

(import '../lib/protocol.libsonnet')('citation_intent', 'mt_dapt', ext.get('model', 'sentence-transformers/all-MiniLM-L6-v2'))
