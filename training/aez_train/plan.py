"""Every training job, in phases (a phase's jobs run side by side; later phases start from earlier ones).

study:    the study's recipe, faithfully: 12 architectures x latent activation {relu, linear}; Adam (lr 1e-3,
          Keras' eps 1e-7), MSE, batch 32, Glorot init, early stopping on validation MSE (patience 10, at most
          300 epochs), best epoch kept.
improved: the same architectures we ship, with a linear latent and a better schedule: the learning rate
          halves after 4 epochs without improvement (down to 1e-5), patience 16, at most 400 epochs.
rate:     rate-distortion fine-tuning of each improved model at several rate weights `lam` (train.py).
dec:      decoder fine-tuning on hard-rounded latents for each rate model."""
from .train import JobSpec

ARCHS = [f"LD{k}E{n}D{n}" for k in (16, 32, 64) for n in (1, 2, 3, 4)]
SHIPPED = ["LD16E3D3", "LD32E3D3", "LD64E3D3", "LD32E2D2"]
LAMS = [0.005, 0.01, 0.02, 0.04, 0.08, 0.16]
LAMS_REFINE = [0.0125, 0.015, 0.0175, 0.025, 0.03, 0.035]


def lam_tag(lam):
    return f"lam{lam:g}".replace(".", "p")


def phases(plan="full"):
    if plan == "smoke":
        return [
            ("float", [JobSpec("study/LD16E2D2-relu", "LD16E2D2", "relu", max_epochs=1, patience=1),
                       JobSpec("improved/LD16E2D2", "LD16E2D2", "linear", max_epochs=1, patience=1)]),
            ("rate", [JobSpec("rate/LD16E2D2-lam0p02", "LD16E2D2", "linear", stage="rate", lr=2e-4, lam=0.02,
                              max_epochs=1, patience=1, init_from="improved/LD16E2D2")]),
            ("dec", [JobSpec("dec/LD16E2D2-lam0p02", "LD16E2D2", "linear", stage="dec", lr=1e-4, max_epochs=1,
                             patience=1, init_from="rate/LD16E2D2-lam0p02")]),
        ]
    if plan == "refine":  # a finer rate grid around PSNR 21.1 dB for the two candidate default models
        rate, dec = [], []
        for a in ("LD32E3D3", "LD64E3D3"):
            for lam in LAMS_REFINE:
                rid = f"rate/{a}-{lam_tag(lam)}"
                rate.append(JobSpec(rid, a, "linear", stage="rate", lr=2e-4, lam=lam, plateau=4, patience=10,
                                    max_epochs=80, init_from=f"improved/{a}", seed=200))
                dec.append(JobSpec(f"dec/{a}-{lam_tag(lam)}", a, "linear", stage="dec", lr=1e-4, plateau=3,
                                   patience=6, max_epochs=40, init_from=rid, seed=300))
        return [("rate", rate), ("dec", dec)]
    if plan != "full":
        raise ValueError(f"unknown plan {plan!r} (expected full or smoke)")
    study = [JobSpec(f"study/{a}-{act}", a, act, seed=i) for i, a in enumerate(ARCHS) for act in ("relu", "linear")]
    improved = [JobSpec(f"improved/{a}", a, "linear", plateau=4, patience=16, max_epochs=400, seed=100 + i)
                for i, a in enumerate(SHIPPED)]
    rate, dec = [], []
    for a in SHIPPED:
        for lam in LAMS:
            rid = f"rate/{a}-{lam_tag(lam)}"
            rate.append(JobSpec(rid, a, "linear", stage="rate", lr=2e-4, lam=lam, plateau=4, patience=10,
                                max_epochs=80, init_from=f"improved/{a}", seed=200))
            dec.append(JobSpec(f"dec/{a}-{lam_tag(lam)}", a, "linear", stage="dec", lr=1e-4, plateau=3, patience=6,
                               max_epochs=40, init_from=rid, seed=300))
    return [("float", study + improved), ("rate", rate), ("dec", dec)]
