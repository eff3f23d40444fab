"""AI Hub's answers as record pieces (abpn.bench.hub_record): device attributes in AI Hub's form, and the
per-layer compute units of a profile as delegation."""
from abpn.bench.hub_record import delegation_section, device_section, ok_row


def test_the_chipset_comes_from_the_part_number_alias_and_names_it_as_phones_do():
    # The aliases of quic/ai-hub-models' devices_and_chipsets.yaml: a slug and a part number (with a bin).
    device = device_section("Samsung Galaxy Tab S7", "12", ["chipset:qualcomm-snapdragon-865+", "chipset:sm8250-ab",
                                                          "os:android", "vendor:samsung", "abi:aarch64-android"])
    assert device["soc_model"] == "SM8250-AB" and device["chipset_name"] == "Snapdragon 865+"
    assert (device["manufacturer"], device["model"], device["android_release"], device["sdk_int"], device["abi"]) == (
        "Samsung", "Samsung Galaxy Tab S7", "12", 31, "arm64-v8a")


def test_a_chipset_without_a_part_number_is_kept_as_ai_hub_names_it():
    device = device_section("QCS6490 (Proxy)", "12", ["chipset:qualcomm-qcs6490-proxy", "os:android"])
    assert device["soc_model"] is None and device["chipset_name"] == "qualcomm-qcs6490-proxy"
    assert device["manufacturer"] is None


def test_delegation_counts_the_layers_on_the_unit_and_names_the_rest():
    layers = [{"compute_unit": "NPU"}] * 10 + [{"compute_unit": "GPU"}] + [{"compute_unit": "CPU"}] * 2
    delegation = delegation_section("qnn_htp", layers)
    assert (delegation["delegated_nodes"], delegation["total_nodes"], delegation["fallback"]) == (10, 13, "GPU+CPU")
    assert delegation["evidence"] == "AI Hub's per-layer profile: 10 NPU, 2 CPU, 1 GPU"


def test_an_accelerator_that_ran_no_layer_is_not_delegated():
    profile = {"execution_summary": {"all_inference_times": [900, 1000], "first_load_time": 5000,
                                     "warm_load_time": 1000},
               "execution_detail": [{"name": "conv", "type": "CONV_2D", "compute_unit": "CPU", "execution_time": 900}]}
    row = ok_row("gpu", {"job_id": "j1"}, profile, None, None)
    assert row["status"] == "not_delegated" and "ran no layer on the GPU" in row["reason"]
    assert row["samples_ms"] == [0.9, 1.0] and row["init_ms"] == 5.0 and row["warm_init_ms"] == 1.0
    assert "no output check" in row["notes"]
