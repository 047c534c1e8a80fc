"""Every method folder (configs/okdhp, hhd, odkd, and fpd and dwpose, the evidence's peers) has
the model-zoo files of an MMPose / MMRazor config folder: a README.md and a metafile.yml that
lists every config of the folder (the shared pieces under _base_/ are no model and are left
out) and only configs that exist, in the format `mim` reads; the measured numbers in it are
those of docs/results.md."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from helpers.paths import REPO

METHODS = ('okdhp', 'hhd', 'odkd', 'fpd', 'dwpose')


def _configs(method: str) -> set:
    """The configs a user runs: every .py of the folder outside the _base_ pieces."""
    folder = REPO / 'configs' / method
    return {str(p.relative_to(REPO)) for p in folder.rglob('*.py') if '_base_' not in p.parts}


def _metafile(method: str) -> dict:
    return yaml.safe_load((REPO / 'configs' / method / 'metafile.yml').read_text())


def _exists(config: str) -> bool:
    """A repository path, or an MMPose config named as `mmpose::...`."""
    if config.startswith('mmpose::'):
        import mmpose

        return (Path(mmpose.__file__).parent / '.mim/configs' /
                config[len('mmpose::'):]).is_file()
    return (REPO / config).is_file()


@pytest.mark.parametrize('method', METHODS)
def test_each_method_folder_has_a_readme_and_a_metafile(method):
    folder = REPO / 'configs' / method
    assert (folder / 'README.md').is_file()
    assert (folder / 'metafile.yml').is_file()
    assert _configs(method), f'no configs in {folder}'


@pytest.mark.parametrize('method', METHODS)
def test_metafile_lists_every_config_of_its_folder_and_only_existing_ones(method):
    meta = _metafile(method)
    collections = {c['Name']: c for c in meta['Collections']}
    for collection in collections.values():
        assert collection['Paper']['Title'] and collection['Paper']['URL'].startswith('https://')
        assert (REPO / collection['README']).is_file()
    listed = [model['Config'] for model in meta['Models']]
    assert len(listed) == len(set(listed)), 'a config is listed twice'
    missing = [c for c in listed if not (REPO / c).is_file()]
    assert not missing, f'metafile lists configs that do not exist: {missing}'
    unlisted = sorted(_configs(method) - set(listed))
    assert not unlisted, f'configs missing from configs/{method}/metafile.yml: {unlisted}'
    for model in meta['Models']:
        assert model['Name'] == Path(model['Config']).stem
        assert model['In Collection'] in collections
        assert model['Metadata']['Architecture'] and model['Metadata']['Training Data']
        related = [model['Metadata'].get('Student'), model['Metadata'].get('Teacher'),
                   *model['Metadata'].get('Teachers', {}).values()]
        for other in filter(None, related):
            assert _exists(other['Config']), (model['Name'], other['Config'])
        for result in model.get('Results', []):
            assert result['Task'] == 'Body 2D Keypoint' and result['Dataset']
            assert result['Metrics'] and all(isinstance(v, float)
                                             for v in result['Metrics'].values())


@pytest.mark.parametrize('method', METHODS)
def test_metafile_loads_as_mims_model_index(method):
    from modelindex.load_model_index import load

    index = load(str(REPO / 'configs' / method / 'metafile.yml'))
    index.build_models_with_collections()
    assert len(index.models) == len(_metafile(method)['Models'])
    assert {m.in_collection for m in index.models} == {c.name for c in index.collections}


@pytest.mark.parametrize('method', METHODS)
def test_measured_results_are_numbers_of_docs_results(method):
    """Our only results are the built-in-data evidence runs: each one is in docs/results.md."""
    results = (REPO / 'docs' / 'results.md').read_text()
    for model in _metafile(method)['Models']:
        for result in model.get('Results', []):
            assert result['Dataset'].startswith('Synthetic'), model['Name']
            for value in result['Metrics'].values():
                assert f'{value:.3f}' in results, (model['Name'], value)


@pytest.mark.parametrize('method', METHODS)
def test_readme_links_point_to_existing_files(method):
    folder = REPO / 'configs' / method
    text = (folder / 'README.md').read_text()
    targets = re.findall(r'\]\((\.{1,2}/[^)#\s]*)\)', text)
    assert targets
    for target in targets:
        assert (folder / target).exists(), target
