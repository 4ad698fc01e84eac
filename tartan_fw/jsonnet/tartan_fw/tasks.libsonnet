// The four end-tasks of "Should We Be Pre-training?" (Dery et al., 2022): their data folder, headline
// metric (ChemProt micro-F1, the others macro-F1), training-set size (to turn epochs into steps)
// and the masked-LM corpora available for them (TAPT: the task's own text; DAPT: 1x domain text).
{
  chemprot: { dataset: 'chemprot', metric: 'micro_f1', train_size: 4169, domain: 'biomed', dapt: true },
  citation_intent: { dataset: 'citation_intent', metric: 'macro_f1', train_size: 1688, domain: 'cs', dapt: true },
  sciie: { dataset: 'sciie', metric: 'macro_f1', train_size: 3219, domain: 'cs', dapt: true },
  hyperpartisan: { dataset: 'hyperpartisan', metric: 'macro_f1', train_size: 515, domain: 'news', dapt: false },
}
