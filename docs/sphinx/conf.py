# Copyright: dbops.runbooks maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sphinx configuration of the collection's HTML docs (scripts/build-docs.sh, `make docs`), made with
`antsibull-docs sphinx-init`; no intersphinx, since the docs build offline."""

from __future__ import annotations

project = 'dbops.runbooks'
copyright = 'dbops.runbooks maintainers'  # pylint: disable=redefined-builtin
title = 'dbops.runbooks Collection Documentation'
html_short_title = 'dbops.runbooks'
extensions = ['sphinx.ext.autodoc', 'sphinx_antsibull_ext']
pygments_style = 'ansible'
highlight_language = 'YAML+Jinja'
html_theme = 'sphinx_ansible_theme'
html_show_sphinx = False
display_version = False
html_use_smartypants = True
html_use_modindex = False
html_use_index = False
html_copy_source = False
default_role = 'any'
nitpicky = True
# References to other collections' and Ansible's own docs (ansible.builtin, amazon.aws, awx.awx,
# common_return_values) resolve only through intersphinx, which needs the network; the build is
# offline, so those warnings are dropped. Everything else still fails the build (-W).
suppress_warnings = ['ref.ref']
