// MT-TARTAN on chemprot with next sentence prediction added to TAPT and DAPT masked-LM, under
// uniform weights. NSP pairs come from the DAPT corpus (documents separated by blank lines).
// Ext-vars: model (default roberta-base; a hub name, a local directory, or 'scratch').
local ext = import 'tartan_fw/ext.libsonnet';
local paper = import 'tartan_fw/paper.libsonnet';

paper('chemprot', aux=['tapt', 'dapt', 'nsp'], weighter={ type: 'uniform' }, model=ext.get('model', 'roberta-base'))
