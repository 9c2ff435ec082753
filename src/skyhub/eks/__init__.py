"""EKS scale-out: Zero to JupyterHub values rendered from the hub's own variables, and the AWS side.

- `values`: hub inventory variables -> (Z2JH values, parity report); pure, no I/O.
- `inventory`: load an inventory directory or a vars file into one dict of variables.
- `infra`: boto3 `ensure_*` / `destroy` for the EKS cluster, node groups, IAM roles and ECR repositories.
"""

# The Zero to JupyterHub chart release the values are written for (JupyterHub 5.5.0 inside).
Z2JH_CHART_VERSION = "4.4.0"
Z2JH_CHART_REPO = "https://hub.jupyter.org/helm-chart/"
