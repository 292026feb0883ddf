SRC ?= csrc
CXXFLAGS=-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -std=c++17 -I$(SRC)
FILES=mp_linear/mp_linear mp_linear/mp_linear_ref mp_linear/mp_linear_avx2 mp_linear/mp_linear_avx512 mp_linear/mp_linear_avxvnni mp_linear/mp_linear_gemm_i8 mp_linear/mp_linear_gemm_i8_avx2 mp_linear/mp_linear_gemm_i8_avx512 mp_linear/mp_linear_gemv_avx512vnni mp_linear/mp_linear_panel mp_linear/mp_linear_panel_avx2 mp_linear/mp_linear_panel_avx512 mp_linear/mp_linear_rows16_avx512vnni mp_linear/mp_linear_rows8_avx2 mp_linear/mp_linear_small_i8 mp_linear/mp_linear_small_i8_avx2 common/isa common/parallel common/kernels_absent
OBJS=$(addprefix obj/,$(addsuffix .o,$(subst /,_,$(FILES))))
i8_cache_driver: i8_cache_driver.cpp $(OBJS)
	g++ $(CXXFLAGS) i8_cache_driver.cpp $(OBJS) -lpthread -o $@
obj/%.o:
	@mkdir -p obj
	g++ $(CXXFLAGS) -c $(SRC)/$(subst _SLASH_,/,$(shell echo $* | sed 's/^mp_linear_/mp_linear\//; s/^common_/common\//')).cpp -o $@
