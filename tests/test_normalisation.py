"""Batch norm's choices for query images (issue 13 item 5): the lessons say their few-shot
numbers are transductive and show what the other choices give; these tests check that the three
choices compute what their names say."""
from __future__ import annotations

import pytest
import torch

from mtlviz.nets import NORMALISATIONS, ConvNet, normalised_logits

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture
def episode():
    torch.manual_seed(0)
    model = ConvNet(n_way=5, channels=8, image_size=20)
    params = dict(model.named_parameters())
    return model, params, torch.randn(5, 1, 20, 20), torch.randn(7, 1, 20, 20)


def test_query_set_normalisation_is_the_plain_forward(episode):
    """The default must stay what every lesson's numbers were computed with."""
    model, params, support, query = episode
    assert torch.equal(normalised_logits(model, params, support, query, "query set"),
                       model.functional_forward(params, query))


def test_support_statistics_make_each_query_image_independent_of_the_others(episode):
    """Not transductive: a query image's logits must not change when the other query images do;
    under the query-set normalisation they do (which is what the lesson warns about)."""
    model, params, support, query = episode
    changed = query.clone()
    changed[1:] = torch.randn(6, 1, 20, 20) * 3
    first = normalised_logits(model, params, support, query, "support set")[0]
    assert torch.allclose(first, normalised_logits(model, params, support, changed, "support set")[0], atol=1e-5)
    assert not torch.allclose(model.functional_forward(params, query)[0],
                              model.functional_forward(params, changed)[0], atol=1e-3)
    # and the support images are what set the statistics
    assert not torch.allclose(first, normalised_logits(model, params, support * 2 + 1, query, "support set")[0],
                              atol=1e-3)


def test_one_image_normalisation_runs_each_image_alone(episode):
    model, params, support, query = episode
    alone = normalised_logits(model, params, support, query, "one image")
    assert alone.shape == (7, 5)
    assert torch.allclose(alone[3], model.functional_forward(params, query[3:4])[0], atol=1e-6)


def test_an_unknown_normalisation_names_the_choices(episode):
    model, params, support, query = episode
    with pytest.raises(ValueError, match="normalisation must be one of 'query set', 'support set', 'one image'"):
        normalised_logits(model, params, support, query, "running stats")
    assert list(NORMALISATIONS) == ["query set", "support set", "one image"]


def test_normalisation_accuracy_needs_a_glyph_estimator():
    from mtlviz.evaluation import normalisation_accuracy

    with pytest.raises(ValueError, match="estimator must be a fitted glyph estimator"):
        normalisation_accuracy(object(), None)
