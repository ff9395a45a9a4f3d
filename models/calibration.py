"""Temperature scaling: one scalar T fitted on the validation split by minimising NLL.

T is fitted on the raw logits, i.e. for the corpus's own label prior; the predictor's prior shift is
applied after it. That is the label-shift correction in the right order (calibrate, then re-weigh by
the prior ratio); fitting T with the shift in place measured worse (GRU test ECE 0.047 vs 0.023)."""
import torch


def fit_temperature(predictor, rows, batch_size: int = 2048) -> float:
    logits = predictor.logits_in_batches([n for n, _ in rows], batch_size)
    return fit_temperature_to_logits(logits, torch.tensor([label for _, label in rows]))


def fit_temperature_to_logits(logits: torch.Tensor, y: torch.Tensor) -> float:
    logits = torch.as_tensor(logits).detach().clone()  # an ordinary tensor, usable by autograd outside inference mode
    log_t = torch.zeros(1, requires_grad=True)  # optimise log T so T stays positive
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=200)

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(logits / log_t.exp(), y)
        loss.backward()
        return loss

    opt.step(closure)
    return log_t.exp().item()
