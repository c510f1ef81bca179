"""A BERT-base encoder in plain torch, shaped like Hugging Face's BertModel so its ONNX export
has the same graph structure (the transformers package is not available here).

Only what an inference export sees is modelled: embeddings (token + position + token type),
LayerNorm, self-attention with HF's additive mask, erf-GELU feed-forward, and the tanh pooler.
Dropout is left out because eval mode removes it from the export anyway.
"""

import math

import torch
from torch import nn


class BertConfig:
    def __init__(self, vocab_size=30522, hidden_size=768, num_layers=12, num_heads=12, intermediate_size=3072,
                 max_position_embeddings=512, type_vocab_size=2, layer_norm_eps=1e-12, initializer_range=0.02,
                 with_pooler=True):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.intermediate_size = intermediate_size
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.layer_norm_eps = layer_norm_eps
        self.initializer_range = initializer_range
        self.with_pooler = with_pooler


class BertEmbeddings(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        # Buffers sliced to the sequence length, as HF does: the export gets a Shape -> Slice
        # subgraph that a static-shape engine must fold.
        self.register_buffer("position_ids", torch.arange(config.max_position_embeddings).unsqueeze(0))
        self.register_buffer("token_type_ids", torch.zeros(1, config.max_position_embeddings, dtype=torch.long))

    def forward(self, input_ids):
        seq_length = input_ids.size(1)
        position_ids = self.position_ids[:, :seq_length]
        token_type_ids = self.token_type_ids[:, :seq_length].expand(input_ids.size(0), seq_length)
        embeddings = (self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids) +
                      self.position_embeddings(position_ids))
        return self.LayerNorm(embeddings)


class BertSelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.num_heads = config.num_heads
        self.head_size = config.hidden_size // config.num_heads
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)

    def split_heads(self, x):
        new_shape = x.size()[:-1] + (self.num_heads, self.head_size)
        return x.view(new_shape).permute(0, 2, 1, 3)

    def forward(self, hidden_states, extended_mask):
        query = self.split_heads(self.query(hidden_states))
        key = self.split_heads(self.key(hidden_states))
        value = self.split_heads(self.value(hidden_states))
        scores = torch.matmul(query, key.transpose(-1, -2)) / math.sqrt(self.head_size)
        scores = scores + extended_mask
        probs = nn.functional.softmax(scores, dim=-1)
        context = torch.matmul(probs, value).permute(0, 2, 1, 3).contiguous()
        return context.view(context.size()[:-2] + (self.num_heads * self.head_size,))


class BertLayer(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.attention = BertSelfAttention(config)
        self.attention_output = nn.Linear(config.hidden_size, config.hidden_size)
        self.attention_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.intermediate = nn.Linear(config.hidden_size, config.intermediate_size)
        self.gelu = nn.GELU()  # erf form: exports as Div/Erf/Add/Mul
        self.output = nn.Linear(config.intermediate_size, config.hidden_size)
        self.output_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden_states, extended_mask):
        attention = self.attention_output(self.attention(hidden_states, extended_mask))
        hidden_states = self.attention_norm(attention + hidden_states)
        intermediate = self.gelu(self.intermediate(hidden_states))
        return self.output_norm(self.output(intermediate) + hidden_states)


class BertEncoderModel(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.embeddings = BertEmbeddings(config)
        self.layers = nn.ModuleList([BertLayer(config) for _ in range(config.num_layers)])
        if config.with_pooler:
            self.pooler = nn.Linear(config.hidden_size, config.hidden_size)
        self.apply(self._init_weights)

    def _init_weights(self, module):
        # HF BERT's N(0, 0.02) weights keep attention logits in the range a trained model has
        # (nn.Linear's default is wider). Biases and LayerNorm affine parameters get small random
        # values instead of HF's 0 / 1, so a kernel that drops a bias or a scale cannot pass.
        if isinstance(module, (nn.Linear, nn.Embedding)):
            module.weight.data.normal_(mean=0.0, std=self.config.initializer_range)
        if isinstance(module, nn.Linear) and module.bias is not None:
            module.bias.data.normal_(mean=0.0, std=self.config.initializer_range)
        if isinstance(module, nn.LayerNorm):
            module.weight.data.normal_(mean=1.0, std=self.config.initializer_range)
            module.bias.data.normal_(mean=0.0, std=self.config.initializer_range)

    def forward(self, input_ids, attention_mask):
        # HF's additive mask: 0 where attended, -10000 where masked, broadcast over heads and queries.
        # In the activations' type, so that the model also runs in half precision (the benchmark's eager FP16).
        hidden_states = self.embeddings(input_ids)
        extended_mask = (1.0 - attention_mask[:, None, None, :].to(hidden_states.dtype)) * -10000.0
        for layer in self.layers:
            hidden_states = layer(hidden_states, extended_mask)
        if not self.config.with_pooler:
            return hidden_states
        pooled = torch.tanh(self.pooler(hidden_states[:, 0]))
        return hidden_states, pooled
