"""Train a small WordPiece tokenizer (for test and benchmark encoders built from scratch)."""

from __future__ import annotations

from pathlib import Path


def build_wordpiece_tokenizer(texts, vocab_size: int, directory: Path):
    """A WordPiece tokenizer trained on ``texts``, saved to ``directory``: the
    tokenizer of the random-weight encoders that tests and the GPU smoke run build."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]))
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")
    fast.model_max_length = 512
    fast.save_pretrained(directory)
    return fast
